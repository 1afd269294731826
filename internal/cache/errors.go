package cache

import "errors"

// ErrMiss is returned by Store.Get when the key is absent or expired.
var ErrMiss = errors.New("cache miss")

// ErrCorrupt is returned when a stored entry cannot be decoded.
var ErrCorrupt = errors.New("cache entry corrupt")

// ErrNotCacheable is returned when a request body is not a JSON object.
var ErrNotCacheable = errors.New("request not cacheable")

// ErrStreamError is returned by AssembleStream when a chunk is an error
// object: the stream failed and there is no answer to store.
var ErrStreamError = errors.New("stream carried an error")

func isMiss(err error) bool { return errors.Is(err, ErrMiss) }
