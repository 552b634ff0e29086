#pragma once
// The allocator policy of qbound's programs (the CLI, the benchmarks).
//
// The engines allocate and free tensors of several megabytes per node.
// glibc's default returns such blocks to the system (mmap above a threshold
// that adapts, trimming of the heap top) and then takes page faults and
// zero-fills when the next node asks for them again: measured, the fast pair
// pass on ResNet18 at 224 spent about half its time there. Blocks up to
// 32 MiB therefore come from the heap, and freed memory stays with the
// process (up to 1 GiB above the live data) for the next node. Peak memory
// is still that of the live tensors plus what the heap keeps. Call once,
// first thing in main; a no-op without glibc.
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace qbound::core {

inline void keep_freed_memory() {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

}  // namespace qbound::core
