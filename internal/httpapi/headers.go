package httpapi

import "net/http"

// setHeaders sets each canonical key of kv (key, value, key, value...) to
// its value, like Header.Set, with one allocation for all the values
// instead of one per header: it runs on every request. Each header's
// slice is capped at its one value, so a later Add copies instead of
// writing into a neighbour.
func setHeaders(h http.Header, kv ...string) {
	vals := make([]string, len(kv)/2)
	for i := range vals {
		vals[i] = kv[2*i+1]
		h[kv[2*i]] = vals[i : i+1 : i+1]
	}
}
