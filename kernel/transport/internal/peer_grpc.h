// transport/internal/peer_grpc.h: the generated gRPC code for nodus.v1.Peer.
//
// Include this instead of "nodus/v1/transport.grpc.pb.h": the generated service classes hide
// overloaded virtuals (sync vs callback Stream/Call), which our warning set rejects. Generated
// code is not held to it.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverloaded-virtual"
#include "nodus/v1/transport.grpc.pb.h"  // IWYU pragma: export
#pragma GCC diagnostic pop
