// Package e2e holds dsgate's end-to-end resilience tests. They build the
// dsgate binary once, run real `dsgate sim` processes and one `dsgate
// serve` on 127.0.0.1 ports, and break the simulators (errors, stalled
// streams, SIGKILL) while requests flow. Everything they start is killed
// when a test ends, and the child processes die with the test binary.
//
// Run them with `go test -count=1 ./e2e/`; -short skips them.
package e2e
