#pragma once
// Deterministic parallel loops: body(task, worker) runs once for every task
// in [0, tasks) on up to `threads` threads (worker in [0, threads)). Tasks
// are handed out dynamically, so a caller whose tasks write only their own
// outputs gets results that do not depend on the thread count. The first
// exception thrown by a task is rethrown after every thread has finished.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace qbound::arith {

// `requested` threads, or all cores when 0.
inline unsigned thread_count(unsigned requested) {
    return requested > 0 ? requested : std::max(1u, std::thread::hardware_concurrency());
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
    for (unsigned w = 1; w < threads; ++w) pool.emplace_back(work, w);
    work(0);
    for (auto& th : pool) th.join();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace qbound::arith
