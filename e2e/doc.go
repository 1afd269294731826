// Package e2e holds dsgate's end-to-end tests against real processes. They
// build the dsgate binary once and run `dsgate sim` and `dsgate serve` on
// 127.0.0.1 ports:
//
//   - resilience: simulators that error, stall mid-stream or are SIGKILLed
//     under load, and the circuit breaker opening and closing;
//   - signals: SIGHUP reloads (and refused reloads: a bad file, a key that
//     needs a restart) with a stream in flight; SIGTERM draining HTTP and
//     gRPC streams together, and cutting those still running at the end of
//     the grace period with an error event, every request audited with the
//     status its client saw;
//   - crash: SIGKILL under load, then `dsgate usage reconcile --journal-only` or a
//     restart: the usage of every key equals what its clients were served;
//   - replicas: three gateways sharing PostgreSQL and Redis hold one rate
//     limit, accept each other's tokens and see a revocation within a second;
//   - engine (TestEngine*): one table of requests sent directly to an engine
//     and through dsgate, compared event by event, against a real
//     llama-server (internal/tinymodel's models; scripts/llamacpp.sh builds
//     it) and the simulator in each personality; client aborts, a killed
//     and restarted engine, least_load over llama.cpp's /metrics.
//
// Everything they start is killed when a test ends, and the child processes
// die with the test binary. The replica tests need PostgreSQL and Redis
// (DSGATE_TEST_POSTGRES_DSN, DSGATE_TEST_REDIS_ADDR); with CI=true a missing
// service fails them. Run them with `go test -count=1 ./e2e/`; -short skips
// them.
package e2e
