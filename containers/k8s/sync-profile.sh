#!/bin/sh
# Copies configs/aurigraph.yaml into the kustomize base, which can load no file outside its
# own directory. The k8s_render test fails when the copy is stale.
set -eu
cd "$(dirname "$0")/../.."
cp configs/aurigraph.yaml containers/k8s/base/aurigraph.yaml
echo "containers/k8s/base/aurigraph.yaml updated from configs/aurigraph.yaml"
