package cache

import "bytes"

// Follower shapes a live coalesced stream (see Group.DoStream) for one
// follower, as Entry.Stream shapes a replay: the leader's chunks include
// the usage-only trailer whether or not its client asked for it, so a
// follower without include_usage skips it, and a follower with it gets a
// usage chunk at the end when no chunk carried one.
type Follower struct {
	// IncludeUsage is the follower's stream_options.include_usage.
	IncludeUsage bool
	// Send writes one SSE data payload to the follower's client.
	Send func([]byte) error

	sent     int
	sawUsage bool
}

// Chunk is the follow function for Group.DoStream.
func (f *Follower) Chunk(p []byte) error {
	if bytes.Contains(p, usageField) {
		if !f.IncludeUsage && isUsageChunk(p) {
			return nil
		}
		if !f.sawUsage && chunkHasUsage(p) {
			f.sawUsage = true
		}
	}
	f.sent++
	return f.Send(p)
}

// Started reports whether the follower's client was sent any chunk; if
// not, the answer is replayed whole from the Entry instead.
func (f *Follower) Started() bool { return f.sent > 0 }

// Finish sends what the follower still owes once the leader's Entry is
// known: the usage chunk, when the client asked for usage and no chunk
// carried it. The caller then ends the stream ([DONE]).
func (f *Follower) Finish(e Entry) error {
	if !f.IncludeUsage || f.sawUsage {
		return nil
	}
	uc, err := usageChunkFor(e.Body)
	if err != nil || uc == nil {
		return err
	}
	return f.Send(uc)
}

var usageField = []byte(`"usage"`)
