// nodus/nodus.h: everything a plugin author needs, in one include.
//
//   #include <nodus/nodus.h>
//   ... define a nodus::Plugin and a describe() function, then NODUS_PLUGIN(describe)
//   (see nodus/plugin.h for a complete example).
#pragma once

#include "nodus/abi.h"
#include "nodus/capability.h"
#include "nodus/config.h"
#include "nodus/json.h"
#include "nodus/plugin.h"
#include "nodus/status.h"

// Capabilities that plugins provide and the kernel may stand in for.
#include "nodus/capabilities/consensus.h"
#include "nodus/capabilities/membership.h"

// The SDK v2 services (PluginContext::datagrams(), http(), http_client(), processes(),
// admin()).
#include "nodus/services/admin.h"
#include "nodus/services/datagram.h"
#include "nodus/services/http.h"
#include "nodus/services/http_client.h"
#include "nodus/services/processes.h"
