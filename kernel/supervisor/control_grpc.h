// supervisor/control_grpc.h: the generated gRPC code for nodus.v1.Control.
//
// Include this instead of "nodus/v1/control.grpc.pb.h": the generated service classes hide
// overloaded virtuals, which our warning set rejects. Generated code is not held to it.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverloaded-virtual"
#include "nodus/v1/control.grpc.pb.h"  // IWYU pragma: export
#pragma GCC diagnostic pop
