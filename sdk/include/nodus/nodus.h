// nodus/nodus.h: everything a plugin author needs, in one include.
//
//   #include <nodus/nodus.h>
//   ... define a nodus::Plugin and a describe() function, then NODUS_PLUGIN(describe)
//   (see nodus/plugin.h for a complete example).
#pragma once

#include "nodus/abi.h"
#include "nodus/config.h"
#include "nodus/plugin.h"
#include "nodus/status.h"

// Membership (nodus/capabilities/membership.h)
#include "nodus/capabilities/membership.h"
// Datagrams (nodus/services/datagram.h)
#include "nodus/services/datagram.h"
