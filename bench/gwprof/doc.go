// Package gwprof holds benchmarks that run the whole gateway in process,
// in front of an in-process simulator, so its CPU and allocations can be
// profiled without a pprof endpoint:
//
//	go test -run '^$' -bench Gateway -benchtime 3s -cpuprofile cpu.prof ./bench/gwprof
//	go tool pprof -tagfocus part=gateway -top cpu.prof
//
// Every goroutine carries a pprof label part=gateway, part=sim or
// part=client (goroutines inherit their creator's labels), so the
// gateway's share of the profile can be told from the simulator's and the
// load's. The figures themselves are not the benchmark: bench/run.sh is.
package gwprof
