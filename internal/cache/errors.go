package cache

import "errors"

// ErrMiss is returned by Store.Get when the key is absent or expired.
var ErrMiss = errors.New("cache miss")

// ErrCorrupt is returned when a stored entry cannot be decoded.
var ErrCorrupt = errors.New("cache entry corrupt")

// ErrNotCacheable is returned when a request body is not a JSON object.
var ErrNotCacheable = errors.New("request not cacheable")

func isMiss(err error) bool { return errors.Is(err, ErrMiss) }
