// nodus/version.h: the version of the SDK library a process actually loaded.
//
//   std::printf("nodus sdk %s (abi %s)\n", nodus::sdk_version(), nodus::sdk_abi_fingerprint());
#pragma once

namespace nodus {

// Semantic version of libnodus_sdk.so, e.g. "0.1.0".
const char* sdk_version();
// The ABI fingerprint the SDK library itself was compiled with (see nodus/abi.h).
const char* sdk_abi_fingerprint();

}  // namespace nodus
