#pragma once
// Deterministic parallel loops: body(task, worker) runs once for every task
// in [0, tasks) on up to `threads` threads (worker in [0, threads)). Tasks
// are handed out dynamically, so a caller whose tasks write only their own
// outputs gets results that do not depend on the thread count. The first
// exception thrown by a task is rethrown after every thread has finished.
#include <mpfr.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace qbound::core {

// The process-wide default for "0 threads" (the CLI's --threads): 0 means
// all cores.
inline std::atomic<unsigned>& default_threads() {
    static std::atomic<unsigned> value{0};
    return value;
}

// `requested` threads; when 0, the process-wide default; when that is 0 too,
// all cores.
inline unsigned thread_count(unsigned requested) {
    if (requested > 0) return requested;
    if (const unsigned d = default_threads().load(); d > 0) return d;
    return std::max(1u, std::thread::hardware_concurrency());
}

template <class Body>
void parallel_for(std::size_t tasks, unsigned threads, const Body& body) {
    threads = static_cast<unsigned>(std::min<std::size_t>(thread_count(threads), tasks));
    if (threads <= 1) {
        for (std::size_t t = 0; t < tasks; ++t) body(t, 0u);
        return;
    }
    std::atomic<std::size_t> next{0};
    std::exception_ptr failure;
    std::mutex failure_mutex;
    const auto work = [&](unsigned worker) {
        for (std::size_t t = next++; t < tasks; t = next++) {
            try {
                body(t, worker);
            } catch (...) {
                std::lock_guard lock(failure_mutex);
                if (!failure) failure = std::current_exception();
                next = tasks;  // stop handing out work
            }
        }
    };
    std::vector<std::thread> pool;
    for (unsigned w = 1; w < threads; ++w)
        pool.emplace_back([&work, w] {
            work(w);
            // MPFR keeps per-thread caches and an mpz pool; free them before
            // the thread ends, or every worker leaks them.
            mpfr_free_cache2(MPFR_FREE_LOCAL_CACHE);
        });
    work(0);
    for (auto& th : pool) th.join();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace qbound::core
