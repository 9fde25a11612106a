#!/usr/bin/env bash
# R and lme4 from Debian's packages, for the side-by-side benchmark (never needed by the tests).
set -euo pipefail
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y r-base-core r-cran-lme4 r-cran-jsonlite
