package server

// fdReserve is how many file descriptors the derived connection limit
// keeps for everything else: listeners, log and audit files, databases,
// the cache's files, health checks, idle upstream connections.
const fdReserve = 256

// maxConnections is the limit of client connections and requests in
// flight (httpapi.Capacity): the configured one, or, for 0, half of what
// the file descriptor limit nofile leaves after fdReserve, since each
// open stream holds a client and an upstream socket. -1, or an unknown
// file descriptor limit, means no limit (0).
func maxConnections(configured int, nofile uint64) int {
	switch {
	case configured > 0:
		return configured
	case configured < 0 || nofile == 0:
		return 0
	case nofile <= 2*fdReserve:
		return max(int(nofile/4), 1)
	}
	return int(min(nofile-fdReserve, 1<<31) / 2)
}
