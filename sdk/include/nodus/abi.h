// nodus/abi.h: the plugin ABI version and fingerprint.
//
// A plugin built against one SDK is loaded only by a kernel with the same ABI version and the
// same fingerprint: compiler family and major version, C++ standard library and its
// dual-ABI setting, language standard, and a hash of the SDK headers (generated at build time
// into nodus/abi_hash.h and installed with them). Anything else is refused before a single
// C++ object crosses the boundary.
//
//   std::printf("built for %s\n", nodus::abi_fingerprint());
#pragma once

#include <cstdint>

#include "nodus/abi_hash.h"  // NODUS_SDK_HEADER_HASH, generated

namespace nodus {

// Bump when a released interface changes incompatibly.
#define NODUS_ABI_VERSION 1
inline constexpr uint32_t kAbiVersion = NODUS_ABI_VERSION;

#define NODUS_ABI_STR_INNER_(x) #x
#define NODUS_ABI_STR_(x) NODUS_ABI_STR_INNER_(x)

#if defined(__clang__)
#define NODUS_ABI_COMPILER_ "clang-" NODUS_ABI_STR_(__clang_major__)
#elif defined(__GNUC__)
#define NODUS_ABI_COMPILER_ "gcc-" NODUS_ABI_STR_(__GNUC__)
#else
#define NODUS_ABI_COMPILER_ "unknown-compiler"
#endif

#if defined(_GLIBCXX_RELEASE)
#define NODUS_ABI_STDLIB_ \
  "libstdc++-" NODUS_ABI_STR_(_GLIBCXX_RELEASE) ";cxx11abi=" NODUS_ABI_STR_(_GLIBCXX_USE_CXX11_ABI)
#elif defined(_LIBCPP_VERSION)
#define NODUS_ABI_STDLIB_ "libc++-" NODUS_ABI_STR_(_LIBCPP_VERSION)
#else
#define NODUS_ABI_STDLIB_ "unknown-stdlib"
#endif

// e.g. "nodus-abi/1;gcc-12;libstdc++-12;cxx11abi=1;std=202002;sdk=3f2a9c01d4e5b6a7"
inline constexpr const char* abi_fingerprint() {
  return "nodus-abi/" NODUS_ABI_STR_(
      NODUS_ABI_VERSION) ";" NODUS_ABI_COMPILER_ ";" NODUS_ABI_STDLIB_
                         ";std=" NODUS_ABI_STR_(__cplusplus) ";sdk=" NODUS_SDK_HEADER_HASH;
}

}  // namespace nodus
