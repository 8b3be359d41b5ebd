#!/bin/bash
# Builds CrateRun: one NativeAOT executable, out/craterun, and its OCI face out/craterun-oci
# (a symlink to the same binary). Needs the .NET 10 SDK and gcc (installed here if missing).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v gcc >/dev/null || ! [ -e /usr/include/zlib.h ]; then
    # gcc compiles the C stage (launch.c) and links the NativeAOT binary; zlib is linked in.
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev zlib1g-dev
fi
command -v dotnet >/dev/null || { echo "build.sh: the .NET 10 SDK is needed (dotnet on PATH)" >&2; exit 1; }
dotnet publish src/CrateRun.Cli -c Release -o out -nologo -v quiet
echo "built: $PWD/out/craterun (and out/craterun-oci)"
