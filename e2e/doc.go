// Package e2e holds dsgate's end-to-end tests against real processes. They
// build the dsgate binary once and run `dsgate sim` and `dsgate serve` on
// 127.0.0.1 ports:
//
//   - resilience: simulators that error, stall mid-stream or are SIGKILLed
//     under load, and the circuit breaker opening and closing;
//   - signals: SIGHUP reloads (and a refused bad reload) with a stream in
//     flight, SIGTERM draining a stream;
//   - replicas: three gateways sharing PostgreSQL and Redis hold one rate
//     limit, accept each other's tokens and see a revocation within a second.
//
// Everything they start is killed when a test ends, and the child processes
// die with the test binary. The replica tests need PostgreSQL and Redis
// (DSGATE_TEST_POSTGRES_DSN, DSGATE_TEST_REDIS_ADDR); with CI=true a missing
// service fails them. Run them with `go test -count=1 ./e2e/`; -short skips
// them.
package e2e
