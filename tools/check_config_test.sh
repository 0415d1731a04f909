#!/bin/sh
# Runs check_config on one experiment config (see tools/experiments.bzl).
exec "$1" "$2"
