# The update server on loopback sockets: serving (test_server) and faults on
# the wire (test_server_faults); both share the client side in server_wire.c.
UNIT_TESTS += test_server test_server_faults
test_server_SRCS := harness/server/server.c harness/server/server_fault.c lib/log.c lib/timeline.c \
	tests/unit/server_wire.c
test_server_WRAPS := syscall
test_server_faults_SRCS := $(test_server_SRCS)
test_server_faults_WRAPS :=
