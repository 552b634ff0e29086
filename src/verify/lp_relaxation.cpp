// The linear program that tightens the linear relaxation pass's bounds of
// one box (declared in linear_relaxation_state.hpp, used by
// linear_relaxation.cpp when linear_options::lp is set).
#include "linear_relaxation_state.hpp"

#include "qbound/arith/interval_double.hpp"

#include <coin/ClpSimplex.hpp>
#include <coin/CoinError.hpp>
#include <coin/CoinPackedMatrix.hpp>

// Under AddressSanitizer's leak checker, a solver abandoned after an abort
// is a leak on purpose (below): it is excluded from the report.
#if defined(__SANITIZE_ADDRESS__)
#define QBOUND_LEAK_CHECKS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define QBOUND_LEAK_CHECKS 1
#endif
#endif
#ifdef QBOUND_LEAK_CHECKS
#include <sanitizer/lsan_interface.h>
#endif

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <csetjmp>
#include <csignal>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace qbound::verify::linrelax {

namespace {

// Debian's CLP keeps its assertions, and some fire on valid programs (an
// ill-scaled one: "getStatus(...) != isFree && ... != superBasic" in
// ClpSimplexDual::dualColumn0 on a network with weights scaled by 2^+-40),
// calling abort(). A solve runs with a SIGABRT handler that jumps back out
// of the solver (POSIX lets a handler of abort()'s signal not return); the
// solver's object is then abandoned (leaked), and the program's goals keep
// the pass's bounds, as when the solver gives up. The handler is installed
// while some thread solves (a count under a mutex) and the one before it
// is restored after; an abort outside a solve goes to that one.
thread_local sigjmp_buf* solve_jump = nullptr;
std::mutex trap_mutex;
std::size_t trap_users = 0;
struct sigaction trap_previous;

// Outside a solve, the previous handler runs as it would have (either
// kind), or the default action.
extern "C" void on_solver_abort(int sig, siginfo_t* info, void* context) {
    if (solve_jump) siglongjmp(*solve_jump, 1);
    if (trap_previous.sa_flags & SA_SIGINFO) {
        if (trap_previous.sa_sigaction) return trap_previous.sa_sigaction(sig, info, context);
    } else if (trap_previous.sa_handler != SIG_DFL && trap_previous.sa_handler != SIG_IGN) {
        return trap_previous.sa_handler(sig);
    }
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

class abort_trap {
public:
    abort_trap() {
        std::lock_guard lock(trap_mutex);
        if (trap_users++ == 0) {
            struct sigaction sa {};
            sa.sa_sigaction = on_solver_abort;
            sigemptyset(&sa.sa_mask);
            sa.sa_flags = SA_NODEFER | SA_SIGINFO;
            sigaction(SIGABRT, &sa, &trap_previous);
        }
    }
    ~abort_trap() {
        std::lock_guard lock(trap_mutex);
        if (--trap_users == 0) sigaction(SIGABRT, &trap_previous, nullptr);
    }
    abort_trap(const abort_trap&) = delete;
    abort_trap& operator=(const abort_trap&) = delete;
};

// Allocations of the body (the solver's, abandoned in the frames an abort
// jumps over) are not leak-checked under the sanitizer.
inline void leak_checks(bool on) {
#ifdef QBOUND_LEAK_CHECKS
    if (on)
        __lsan_enable();
    else
        __lsan_disable();
#else
    (void)on;
#endif
}

// body() with the trap set on this thread: false when it called abort().
// No object with a destructor lives in this frame across the jump.
[[gnu::noinline]] bool trapped(const std::function<void()>& body) {
    sigjmp_buf jump;
    sigjmp_buf* const outer = solve_jump;
    leak_checks(false);
    if (sigsetjmp(jump, 1) != 0) {
        solve_jump = outer;
        leak_checks(true);
        return false;
    }
    solve_jump = &jump;
    try {
        body();
    } catch (...) {
        solve_jump = outer;
        leak_checks(true);
        throw;
    }
    solve_jump = outer;
    leak_checks(true);
    return true;
}

// A solver left after an abort inside it: its state is not consistent
// enough to destroy, so it is leaked (and not reported under the sanitizer).
void abandon(std::unique_ptr<ClpSimplex>& solver) {
    ClpSimplex* const left = solver.release();
#ifdef QBOUND_LEAK_CHECKS
    __lsan_ignore_object(left);
#else
    (void)left;
#endif
}

enum class solve_status { solved, gave_up, aborted };

// One simplex call (dual from scratch, else primal from the current basis).
solve_status guarded_solve(ClpSimplex* m, bool dual) {
    try {
        const bool done = trapped([&] {
            if (dual)
                m->dual();
            else
                m->primal();  // warm start from the previous basis (it stays primal feasible: only the objective changed)
        });
        return done ? solve_status::solved : solve_status::aborted;
    } catch (const CoinError&) {
        return solve_status::gave_up;
    }
}

// The program as built: rows lo <= sum a_j v_j <= hi, exactly in the reals,
// for every point of the box (under the splits); columns l <= v <= u.
class program {
public:
    int column(double lo, double hi) {
        col_lo_.push_back(lo);
        col_hi_.push_back(hi);
        return static_cast<int>(col_lo_.size()) - 1;
    }
    void tighten(int j, double lo, double hi) {
        col_lo_[static_cast<std::size_t>(j)] = std::max(col_lo_[static_cast<std::size_t>(j)], lo);
        col_hi_[static_cast<std::size_t>(j)] = std::min(col_hi_[static_cast<std::size_t>(j)], hi);
    }
    double lo(int j) const { return col_lo_[static_cast<std::size_t>(j)]; }
    double hi(int j) const { return col_hi_[static_cast<std::size_t>(j)]; }
    // A row over (column, coefficient) terms; terms with a zero coefficient are dropped.
    void row(std::initializer_list<std::pair<int, double>> terms, double lo, double hi) {
        for (const auto& [j, a] : terms) term(j, a);
        end_row(lo, hi);
    }
    void term(int j, double a) {
        if (a == 0) return;
        entry_col_.push_back(j);
        entry_val_.push_back(a);
    }
    void end_row(double lo, double hi) {
        if (std::isnan(lo) || std::isnan(hi)) lo = -inf, hi = inf;
        row_owner_.push_back(owner_);
        row_lo_.push_back(lo);
        row_hi_.push_back(hi);
        row_end_.push_back(entry_col_.size());
    }
    std::size_t rows() const { return row_lo_.size(); }
    // Rows added from now on relax ReLU element `owner` (an index the caller
    // keeps), or nothing (-1): the branching scores below.
    void set_owner(long owner) { owner_ = owner; }
    // Per owner, the part of the bound that its rows' constants carry
    // (|y_r| times the row's side): what splitting that element removes.
    std::vector<double> owner_scores(const double* y, std::size_t owners) const {
        std::vector<double> score(owners, 0.0);
        for (std::size_t r = 0; r < rows(); ++r) {
            if (row_owner_[r] < 0 || y[r] == 0 || !std::isfinite(y[r])) continue;
            const double side = y[r] > 0 ? row_hi_[r] : row_lo_[r];
            if (std::isfinite(side)) score[static_cast<std::size_t>(row_owner_[r])] += std::fabs(y[r] * side);
        }
        return score;
    }
    std::size_t columns() const { return col_lo_.size(); }
    bool empty_column(int j) const { return col_lo_[static_cast<std::size_t>(j)] > col_hi_[static_cast<std::size_t>(j)]; }

    void load(ClpSimplex& m) const {
        std::vector<int> rows_of;
        rows_of.reserve(entry_col_.size());
        for (std::size_t r = 0, e = 0; r < rows(); ++r)
            for (; e < row_end_[r]; ++e) rows_of.push_back(static_cast<int>(r));
        const CoinPackedMatrix a(false, rows_of.data(), entry_col_.data(), entry_val_.data(), static_cast<CoinBigIndex>(entry_col_.size()));
        const auto solver_side = [](double v) { return std::isinf(v) ? (v > 0 ? COIN_DBL_MAX : -COIN_DBL_MAX) : v; };
        std::vector<double> cl(columns()), cu(columns()), rl(rows()), ru(rows());
        for (std::size_t j = 0; j < columns(); ++j) cl[j] = solver_side(col_lo_[j]), cu[j] = solver_side(col_hi_[j]);
        for (std::size_t r = 0; r < rows(); ++r) rl[r] = solver_side(row_lo_[r]), ru[r] = solver_side(row_hi_[r]);
        std::vector<double> obj(columns(), 0.0);
        CoinPackedMatrix full(a);
        full.setDimensions(static_cast<int>(rows()), static_cast<int>(columns()));
        m.loadProblem(full, cl.data(), cu.data(), obj.data(), rl.data(), ru.data());
    }

    // The weak-duality certificate: an upper bound of c.v over every point
    // of the rows and columns, for any multipliers y (see the header).
    double certificate(const std::vector<std::pair<int, double>>& c, const double* y, bool drop_columns = false) const {
        using arith::interval_double;
        std::vector<interval_double> reduced(columns(), interval_double(0.0));
        for (const auto& [j, a] : c) reduced[static_cast<std::size_t>(j)] = interval_double(a);
        interval_double acc(0.0);
        for (std::size_t r = 0, e = 0; r < rows(); e = row_end_[r], ++r) {
            const double yr = y[r];
            if (yr == 0 || !std::isfinite(yr)) continue;
            const double side = yr > 0 ? row_hi_[r] : row_lo_[r];
            if (!std::isfinite(side)) continue;  // this multiplier is taken as 0
            acc += interval_double(yr) * interval_double(side);
            for (std::size_t t = e; t < row_end_[r]; ++t)
                reduced[static_cast<std::size_t>(entry_col_[t])] -= interval_double(yr) * interval_double(entry_val_[t]);
        }
        for (std::size_t j = 0; j < columns() && !drop_columns; ++j) {
            const interval_double& g = reduced[j];
            if (g.lower() == 0 && g.upper() == 0) continue;
            if (!std::isfinite(col_lo_[j]) || !std::isfinite(col_hi_[j])) return inf;
            acc += g * arith::make_interval(col_lo_[j], col_hi_[j]);
        }
        const double bound = acc.upper();
        return std::isnan(bound) ? inf : bound;
    }

private:
    std::vector<double> col_lo_, col_hi_, row_lo_, row_hi_, entry_val_;
    std::vector<int> entry_col_;
    std::vector<std::size_t> row_end_;
    std::vector<long> row_owner_;
    long owner_ = -1;
};

// The rows of relu(z + d) - relu(z) (= out1 - out0) against d = in1 - in0 on [dl, du]:
// below max(0, d) and above min(0, d), each by its chord when d's sign is not known.
void difference_rows(program& p, int in0, int in1, int out0, int out1, double dl, double du) {
    if (!(dl <= du) || !std::isfinite(dl) || !std::isfinite(du)) return;
    if (dl >= 0) {
        p.row({{out1, 1}, {out0, -1}, {in1, -1}, {in0, 1}}, -inf, 0);  // <= d
        p.row({{out1, 1}, {out0, -1}}, 0, inf);                         // >= 0
    } else if (du <= 0) {
        p.row({{out1, 1}, {out0, -1}}, -inf, 0);                        // <= 0
        p.row({{out1, 1}, {out0, -1}, {in1, -1}, {in0, 1}}, 0, inf);    // >= d
    } else {
        const line a = upper_chord(dl, du), b = lower_chord_in_d(dl, du);
        p.row({{out1, 1}, {out0, -1}, {in1, -a.az}, {in0, a.az}}, -inf, a.c);
        p.row({{out1, 1}, {out0, -1}, {in1, -b.ad}, {in0, b.ad}}, b.c, inf);
    }
}

}  // namespace

std::vector<lp_outcome> lp_upper(const input_box& box, const net::network& theta, const std::vector<node_plan>& plans,
                                 const std::function<const node_state&(std::size_t)>& state, std::size_t last,
                                 const std::vector<lp_goal>& goals, bool magnitude_only, bool drop_column_term_for_test) {
    const auto& nodes = theta.nodes();
    for (std::size_t i = 1; i <= last; ++i)
        if (plans[i].kind == record_kind::constant || plans[i].kind == record_kind::none) return {};
    program p;
    std::vector<relu_split> owners;  // the unstable ReLU elements, in the order their rows were added
    // cols[t][i][e]: the column of element e of node i in network t (0: theta, 1: theta').
    std::vector<std::vector<int>> cols[2];
    cols[0].resize(last + 1), cols[1].resize(last + 1);
    const std::size_t n = box.lower.size();
    for (std::size_t j = 0; j < n; ++j) cols[0][0].push_back(p.column(box.lower[j], box.upper[j]));
    cols[1][0] = cols[0][0];
    const auto couple = [&](int c0, int c1, double dl, double dh) {
        if (c0 != c1 && (std::isfinite(dl) || std::isfinite(dh))) p.row({{c1, 1}, {c0, -1}}, dl, dh);
    };
    for (std::size_t i = 1; i <= last; ++i) {
        const node_plan& plan = plans[i];
        const node_state& s = state(i);
        const net::node& nd = nodes[i];
        const std::size_t E = s.elements;
        cols[0][i].resize(E), cols[1][i].resize(E);
        // The pass's certified range of element e in network t (theta' as z + d).
        const auto pass_lo = [&](int t, std::size_t e) { return t == 0 ? s.zlo[e] : down(s.zlo[e] + s.dlo[e]); };
        const auto pass_hi = [&](int t, std::size_t e) { return t == 0 ? s.zhi[e] : up(s.zhi[e] + s.dhi[e]); };
        if (plan.kind == record_kind::affine) {
            for (std::size_t o = 0; o < E; ++o) {
                const std::size_t b = plan.start[o], e = plan.start[o + 1];
                const tap& first = plan.taps[b];
                const bool copy = e == b + 1 && first.w == 1 && first.wq == 1 && first.s == 0 && first.es == 0 && first.r == 0 &&
                                  plan.bz[o] == 0 && plan.rbz[o] == 0 && plan.bd[o] == 0 && plan.rbd[o] == 0;
                for (int t = 0; t < 2; ++t) {
                    const auto input_col = [&](const tap& x) { return cols[t][nd.inputs[x.slot]][x.idx]; };
                    if (copy) {
                        cols[t][i][o] = input_col(first);
                        p.tighten(cols[t][i][o], pass_lo(t, o), pass_hi(t, o));
                        continue;
                    }
                    const int v = p.column(pass_lo(t, o), pass_hi(t, o));
                    cols[t][i][o] = v;
                    // v - sum w x = b + err, |err| <= radius (inexact weights and constants).
                    double radius = plan.rbz[o];
                    if (t == 1) radius = up(radius + plan.rbd[o]);
                    p.term(v, 1.0);
                    for (std::size_t k = b; k < e; ++k) {
                        const tap& x = plan.taps[k];
                        const int c = input_col(x);
                        p.term(c, -(t == 0 ? x.w : x.wq));
                        if (x.r != 0) {
                            const double m = std::max(std::fabs(p.lo(c)), std::fabs(p.hi(c)));
                            radius = up(radius + up(x.r * m));
                        }
                    }
                    double lo = plan.bz[o], hi = plan.bz[o];
                    if (t == 1) lo = down(lo + plan.bd[o]), hi = up(hi + plan.bd[o]);
                    p.end_row(down(lo - radius), up(hi + radius));
                }
                couple(cols[0][i][o], cols[1][i][o], s.dlo[o], s.dhi[o]);
            }
        } else if (plan.kind == record_kind::relu) {
            const std::size_t from = nd.inputs.at(0);
            for (std::size_t e = 0; e < E; ++e) {
                const double* pre = s.pre.data() + 6 * e;  // zl, zu, ql, qu, dl, du
                int out[2];
                bool unstable = false;
                for (int t = 0; t < 2; ++t) {
                    const int in = cols[t][from][e];
                    const double l = pre[2 * t], u = pre[2 * t + 1];
                    p.tighten(in, l, u);
                    if (l >= 0) {
                        out[t] = in;
                    } else if (u <= 0) {
                        out[t] = p.column(0.0, 0.0);
                    } else {
                        unstable = true;
                        p.set_owner(static_cast<long>(owners.size()));
                        owners.push_back({i, e, t == 1, false});
                        out[t] = p.column(0.0, pass_hi(t, e));
                        p.tighten(out[t], 0.0, u);
                        const line c = upper_chord(l, u);
                        p.row({{out[t], 1}, {in, -1}}, 0, inf);            // relu(z) >= z
                        p.row({{out[t], 1}, {in, -c.az}}, -inf, c.c);       // relu(z) <= lambda z + c
                        p.set_owner(-1);
                    }
                    cols[t][i][e] = out[t];
                }
                if (unstable) {
                    // The difference rows go to theta's element when it is unstable, else to theta''s.
                    const bool z_unstable = pre[0] < 0 && pre[1] > 0;
                    p.set_owner(static_cast<long>(owners.size()) - (z_unstable && pre[2] < 0 && pre[3] > 0 ? 2 : 1));
                    difference_rows(p, cols[0][from][e], cols[1][from][e], out[0], out[1], pre[4], pre[5]);
                    p.set_owner(-1);
                }
                couple(out[0], out[1], s.dlo[e], s.dhi[e]);
            }
        } else {  // record_kind::select: max pooling
            const std::size_t from = nd.inputs.at(0);
            net::for_each_pool_window(nd, nodes[from].output, [&](std::size_t o, const std::vector<std::size_t>& taps) {
                for (int t = 0; t < 2; ++t) {
                    double L = -inf, U = -inf;
                    for (std::size_t x : taps) {
                        L = std::max(L, p.lo(cols[t][from][x]));
                        U = std::max(U, p.hi(cols[t][from][x]));
                    }
                    std::vector<int> live;
                    for (std::size_t x : taps)
                        if (p.hi(cols[t][from][x]) >= L) live.push_back(cols[t][from][x]);
                    if (live.size() == 1) {
                        cols[t][i][o] = live[0];
                        continue;
                    }
                    const int v = p.column(L, U);
                    p.tighten(v, pass_lo(t, o), pass_hi(t, o));
                    cols[t][i][o] = v;
                    // max >= every tap; max <= L + sum (tap - its lower bound).
                    double rhs = L;
                    for (int c : live) {
                        p.row({{v, 1}, {c, -1}}, 0, inf);
                        rhs = up(rhs - p.lo(c));
                    }
                    p.term(v, 1.0);
                    for (int c : live) p.term(c, -1.0);
                    p.end_row(-inf, std::isnan(rhs) ? inf : rhs);  // -inf - -inf: no row
                }
                couple(cols[0][i][o], cols[1][i][o], s.dlo[o], s.dhi[o]);
            });
        }
    }
    std::vector<lp_outcome> out(goals.size());
    for (std::size_t j = 0; j < p.columns(); ++j)
        if (p.empty_column(static_cast<int>(j))) {
            for (auto& r : out) r.infeasible = true;  // the certified bounds of one element do not meet on S
            return out;
        }
    // On the heap: abandoned, not destroyed, after an abort inside the solver.
    auto solver = std::make_unique<ClpSimplex>();
    ClpSimplex& m = *solver;
    m.setLogLevel(0);
    p.load(m);
    const abort_trap trap;
    m.setOptimizationDirection(-1);  // maximize
    // A count, not a time: badly scaled programs (weights 2^+-40) can make the
    // simplex cycle. A stopped solve's multipliers still give a valid certificate.
    m.setMaximumIterations(static_cast<int>(std::min<std::size_t>(3 * (p.rows() + p.columns()) + 100, 1'000'000)));
    std::vector<double> y(p.rows());
    // The order of the solves (magnitude only: per pair, the side with the larger known bound first).
    std::vector<std::size_t> order(goals.size());
    for (std::size_t g = 0; g < goals.size(); ++g) order[g] = g;
    if (magnitude_only)
        for (std::size_t g = 0; g + 1 < goals.size(); g += 2)
            if (goals[g + 1].known > goals[g].known) std::swap(order[g], order[g + 1]);
    for (std::size_t step = 0; step < order.size(); ++step) {
        const std::size_t g = order[step];
        if (magnitude_only && step % 2 == 1) {
            const lp_outcome& first = out[order[step - 1]];
            if (first.bounded && goals[g].known <= first.bound) continue;
        }
        const std::size_t k = goals[g].k;
        const int c1 = cols[1][last][k], c0 = cols[0][last][k];
        std::vector<std::pair<int, double>> c;
        if (c0 != c1) c = {{c1, goals[g].sign}, {c0, -goals[g].sign}};
        for (std::size_t j = 0; j < p.columns(); ++j) m.setObjectiveCoefficient(static_cast<int>(j), 0.0);
        for (const auto& [j, a] : c) m.setObjectiveCoefficient(j, a);
        const solve_status status = guarded_solve(solver.get(), step == 0);
        if (status == solve_status::aborted) abandon(solver);
        if (status != solve_status::solved) return out;  // the goals not yet bounded keep the pass's bounds
        lp_outcome& r = out[g];
        if (m.status() == 0 || (m.status() == 3 && m.dualRowSolution())) {
            const double* dual = m.dualRowSolution();
            double best = inf, best_sign = 1;
            for (double sign : {1.0, -1.0}) {
                for (std::size_t t = 0; t < p.rows(); ++t) y[t] = sign * dual[t];
                const double bound = p.certificate(c, y.data(), drop_column_term_for_test);
                if (bound < best) best = bound, best_sign = sign;
            }
            r.bound = best;
            r.bounded = std::isfinite(best);
            // Branching: the element whose relaxation rows carry most of this bound.
            for (std::size_t t = 0; t < p.rows(); ++t) y[t] = best_sign * dual[t];
            const auto score = p.owner_scores(y.data(), owners.size());
            for (std::size_t o = 0; o < owners.size(); ++o)
                if (score[o] > r.split_score) r.split_score = score[o], r.split = owners[o], r.has_split = true;
            const double* primal = m.primalColumnSolution();
            r.x.resize(n);
            for (std::size_t j = 0; j < n; ++j) r.x[j] = std::clamp(primal[j], box.lower[j], box.upper[j]);
        } else if (m.status() == 1) {
            std::unique_ptr<double[]> ray(m.infeasibilityRay());
            if (ray) {
                for (double sign : {1.0, -1.0}) {
                    for (std::size_t t = 0; t < p.rows(); ++t) y[t] = sign * ray[t];
                    if (p.certificate({}, y.data()) < 0) r.infeasible = true;
                }
            }
            if (r.infeasible)
                for (auto& other : out) other.infeasible = true;
            return out;
        }
    }
    return out;
}

}  // namespace qbound::verify::linrelax

namespace qbound::verify {

bool run_with_solver_abort_trap(const std::function<void()>& body) {
    const linrelax::abort_trap trap;
    return linrelax::trapped(body);
}

}  // namespace qbound::verify
