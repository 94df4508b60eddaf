#include "nodus/version.h"

#include "nodus/abi.h"

#ifndef NODUS_VERSION_STRING
#error "NODUS_VERSION_STRING must be defined by the build"
#endif

namespace nodus {

const char* sdk_version() {
  return NODUS_VERSION_STRING;
}
const char* sdk_abi_fingerprint() {
  return abi_fingerprint();
}

}  // namespace nodus
