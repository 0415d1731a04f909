// Seed derivation: independent streams from (run seed, epoch, index, ...)
// whatever the order or thread they are used in.
#ifndef CHEXWORLD_CORE_SEED_H_
#define CHEXWORLD_CORE_SEED_H_

#include <cstdint>

namespace chexworld {

// splitmix64 finaliser.
inline uint64_t MixSeed(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace chexworld

#endif  // CHEXWORLD_CORE_SEED_H_
