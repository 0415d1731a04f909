#!/bin/sh
# Debian protoc; see //third_party:com_google_protobuf.BUILD
exec /usr/bin/protoc "$@"
