// Command loadgen is the load generator of dsgate's benchmark harness
// (bench/run.sh). It drives one URL on 127.0.0.1 with a fixed number of
// closed-loop workers over keep-alive connections, for a duration or a
// request count after a warm-up, and prints one JSON line of results:
// requests/s, latency percentiles, time to first byte for streams, errors
// and, with -watch-pid, the CPU time and peak RSS of the process under
// test during the measured window.
//
// Latencies go into fixed-size log-linear histograms, one per worker, so
// recording a sample allocates nothing and takes no lock. Streaming
// responses are read to the end and must finish with "data: [DONE]".
//
// It refuses any target other than 127.0.0.1 and always stops by itself:
// every run is bounded by -d (or -n together with -max-time).
package main
