// The guard around the linear program's solver (verify/linear_relaxation.hpp,
// run_with_solver_abort_trap): an abort() inside the guarded body returns
// false and the process goes on, from one thread or two at once; the
// SIGABRT disposition before the guard is restored after it; an abort
// outside a guarded body (on another thread while one is guarded, or after)
// still ends the process with SIGABRT, or runs the handler installed before
// the guard, of either kind (checked in child processes).
#include "qbound/verify/linear_relaxation.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <thread>

using namespace qbound;

namespace {

using handler_t = void (*)(int);

handler_t current_abort_handler() {
    struct sigaction now {};
    sigaction(SIGABRT, nullptr, &now);
    return now.sa_handler;
}

// Runs child() in a child process (SIGABRT at its default first) and
// returns its wait status.
template <class F>
int child_status(F child) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        std::signal(SIGABRT, SIG_DFL);
        child();
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return status;
}

// The signal that ended child() (0 when it exited).
template <class F>
int ending_signal(F child) {
    const int status = child_status(child);
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

// While one thread is inside the guard, another aborts: the handler that
// was installed before the guard runs.
void abort_beside_a_guarded_thread() {
    std::atomic<bool> inside{false};
    std::thread t([&] {
        (void)verify::run_with_solver_abort_trap([&] {
            inside = true;
            for (;;) ::pause();
        });
    });
    while (!inside) std::this_thread::yield();
    std::abort();
}

extern "C" void exit_42(int) { ::_exit(42); }
extern "C" void exit_43(int, siginfo_t*, void*) { ::_exit(43); }

}  // namespace

TEST_CASE("an abort inside the guard returns false and the process goes on", "[verify]") {
    const handler_t before = current_abort_handler();
    int ran = 0;
    CHECK_FALSE(verify::run_with_solver_abort_trap([&] {
        ++ran;
        std::abort();
    }));
    CHECK(verify::run_with_solver_abort_trap([&] { ++ran; }));
    CHECK_FALSE(verify::run_with_solver_abort_trap([&] {
        ++ran;
        std::abort();
    }));
    CHECK(ran == 3);
    CHECK(current_abort_handler() == before);
    // An exception leaves the guard as it was.
    CHECK_THROWS_AS(verify::run_with_solver_abort_trap([] { throw std::runtime_error("out"); }), std::runtime_error);
    CHECK(current_abort_handler() == before);
    CHECK_FALSE(verify::run_with_solver_abort_trap([] { std::abort(); }));
}

TEST_CASE("two threads under the guard at once", "[verify]") {
    std::atomic<int> wrong{0};
    const auto work = [&](bool aborting) {
        for (int i = 0; i < 200; ++i) {
            const bool abort_now = aborting && i % 2 == 0;
            const bool done = verify::run_with_solver_abort_trap([&] {
                if (abort_now) std::abort();
            });
            if (done == abort_now) ++wrong;
        }
    };
    std::thread a(work, true), b(work, false), c(work, true);
    a.join(), b.join(), c.join();
    CHECK(wrong == 0);
}

TEST_CASE("an abort outside the guard still ends the process", "[verify]") {
    // After a guarded body.
    CHECK(ending_signal([] {
              (void)verify::run_with_solver_abort_trap([] {});
              std::abort();
          }) == SIGABRT);
    // On another thread while one thread is inside the guard.
    CHECK(ending_signal(abort_beside_a_guarded_thread) == SIGABRT);
    // There, a handler installed before the guard runs, of either kind.
    const int plain = child_status([] {
        std::signal(SIGABRT, exit_42);
        abort_beside_a_guarded_thread();
    });
    CHECK((WIFEXITED(plain) && WEXITSTATUS(plain) == 42));
    const int with_info = child_status([] {
        struct sigaction sa {};
        sa.sa_sigaction = exit_43;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGABRT, &sa, nullptr);
        abort_beside_a_guarded_thread();
    });
    CHECK((WIFEXITED(with_info) && WEXITSTATUS(with_info) == 43));
    // Control: the child helper sees a clean exit as no signal.
    CHECK(ending_signal([] {}) == 0);
}
