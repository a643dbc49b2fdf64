# tests/lightvm: unit tests of the monitor's pieces.
check_PROGRAMS += tests/lightvm/test-child tests/lightvm/test-alu
TESTS += tests/lightvm/test-child tests/lightvm/test-alu tests/lightvm/console.sh \
	tests/lightvm/bad-args.sh tests/lightvm/bad-pv.sh
tests_lightvm_test_alu_SOURCES = tests/lightvm/test-alu.c lightvm/alu.h lightvm/alu.c
tests_lightvm_test_child_SOURCES = tests/lightvm/test-child.c lightvm/child.h lightvm/child.c \
	lightvm/stub_blob.S
tests_lightvm_test_child_CCASFLAGS = -Wa,-I.
EXTRA_tests_lightvm_test_child_DEPENDENCIES = lightvm/stub.elf
lightvm/tests_lightvm_test_child-stub_blob.$(OBJEXT): lightvm/stub.elf
EXTRA_DIST += tests/lightvm/console.sh tests/lightvm/bad-args.sh tests/lightvm/bad-pv.sh
