package modelcrypt

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"golang.org/x/sync/errgroup"
)

// pipelineBudget caps the chunk buffers one stream may hold.
const pipelineBudget = 64 << 20

// Options tune a Codec. The zero value is ready to use.
type Options struct {
	// ChunkSize is the plaintext bytes per chunk for new files; 0 means
	// DefaultChunkSize. Decryption uses the size in the header.
	ChunkSize int
	// Workers is how many chunks are sealed or opened in parallel; 0 means
	// GOMAXPROCS, at most 4.
	Workers int
	// Overwrite allows file and tree operations to replace existing outputs.
	Overwrite bool
	// Progress, if set, is called with the number of input bytes processed
	// (header included) as a stream advances, from one goroutine at a time.
	Progress func(n int64)
}

// Codec encrypts, decrypts and verifies streams, files and directory trees
// with the keys of a Keyring. It is safe for concurrent use.
type Codec struct {
	keys *Keyring
	opts Options
	// slots recycles chunk buffers between streams, so a directory of
	// shards reuses one set of buffers. Owned by this Codec, not global.
	slots sync.Pool
	// rand supplies nonce prefixes and salts; crypto/rand unless a test in
	// this package needs reproducible files.
	rand io.Reader
}

// New returns a Codec using keys. The Keyring stays owned by the caller.
func New(keys *Keyring, o Options) (*Codec, error) {
	if keys == nil {
		return nil, errors.New("modelcrypt: nil keyring")
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.ChunkSize < MinChunkSize || o.ChunkSize > MaxChunkSize {
		return nil, fmt.Errorf("chunk size %d outside %d..%d", o.ChunkSize, MinChunkSize, MaxChunkSize)
	}
	if o.Workers <= 0 {
		o.Workers = min(runtime.GOMAXPROCS(0), 4)
	}
	return &Codec{keys: keys, opts: o, rand: rand.Reader}, nil
}

// Encrypt reads plaintext from src until EOF and writes the encrypted file to
// dst under keyID.
func (c *Codec) Encrypt(ctx context.Context, dst io.Writer, src io.Reader, keyID string) error {
	h, err := c.keys.newHeader(c.rand, keyID, c.opts.ChunkSize)
	if err != nil {
		return err
	}
	aead, err := c.aead(ctx, h)
	if err != nil {
		return err
	}
	if _, err := dst.Write(h.raw); err != nil {
		return fmt.Errorf("writing header: %w", err)
	}
	c.progress(int64(len(h.raw)))
	return c.run(ctx, dst, src, h, aead, true)
}

// Decrypt reads an encrypted file from src and writes the plaintext to dst.
// Chunks are written only after they authenticate, in order; if Decrypt
// returns an error, dst may hold an authentic but incomplete prefix, so
// callers that publish the output must discard it (DecryptFile does).
// With dst == io.Discard it only verifies.
func (c *Codec) Decrypt(ctx context.Context, dst io.Writer, src io.Reader) (*Header, error) {
	h, err := ReadHeader(src)
	if err != nil {
		return nil, err
	}
	aead, err := c.aead(ctx, h)
	if err != nil {
		return h, err
	}
	c.progress(int64(len(h.raw)))
	return h, c.run(ctx, dst, src, h, aead, false)
}

// aead derives the file key for h and returns its AES-256-GCM instance.
// crypto/aes and crypto/cipher GCM values hold no mutable state after
// creation, so one instance serves all workers.
func (c *Codec) aead(ctx context.Context, h *Header) (cipher.AEAD, error) {
	key, err := c.keys.fileKey(ctx, h)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("creating cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("creating gcm: %w", err)
	}
	return aead, nil
}

func (c *Codec) progress(n int64) {
	if c.opts.Progress != nil && n > 0 {
		c.opts.Progress(n)
	}
}

// slot is one chunk in flight with its reusable buffers.
type slot struct {
	in    []byte // read buffer, chunk+tag bytes
	out   []byte // result buffer, chunk+tag bytes
	n     int    // bytes read into in
	index uint32
	final bool
	res   []byte // result, a prefix of out
	err   error
	done  chan struct{} // signalled by the worker; capacity 1
}

// run pipes src through a bounded pool: one reader goroutine fills slots in
// order, workers seal or open them, and one writer goroutine writes results
// in order and recycles the slots. Memory is the slots' buffers only.
func (c *Codec) run(ctx context.Context, dst io.Writer, src io.Reader, h *Header, aead cipher.AEAD, encrypt bool) error {
	readSize := h.ChunkSize
	if !encrypt {
		readSize += tagSize
	}
	bufSize := h.ChunkSize + tagSize
	nslots := min(2*c.opts.Workers+2, max(2, pipelineBudget/(2*bufSize)))
	workers := min(c.opts.Workers, nslots)

	// Slots are allocated on demand, up to nslots, so a small file costs
	// one or two buffers rather than the whole pool.
	free := make(chan *slot, nslots)
	allocated := 0
	newSlot := func() *slot {
		if allocated == nslots {
			return nil
		}
		allocated++
		if s, ok := c.slots.Get().(*slot); ok && len(s.in) == bufSize {
			return s
		}
		return &slot{in: make([]byte, bufSize), out: make([]byte, bufSize), done: make(chan struct{}, 1)}
	}
	work := make(chan *slot, nslots)
	ordered := make(chan *slot, nslots)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(ordered)
		defer close(work)
		return readChunks(gctx, src, readSize, free, newSlot, func(s *slot) { work <- s; ordered <- s })
	})
	for range workers {
		g.Go(func() error {
			for s := range work {
				if err := gctx.Err(); err != nil {
					s.res, s.err = nil, err // never leave a stale result behind
				} else {
					s.res, s.err = process(aead, h, s, encrypt)
				}
				s.done <- struct{}{}
			}
			return nil
		})
	}
	g.Go(func() error {
		for s := range ordered {
			select {
			case <-s.done:
			case <-gctx.Done():
				return gctx.Err()
			}
			if s.err != nil {
				return s.err
			}
			if _, err := dst.Write(s.res); err != nil {
				return fmt.Errorf("writing output: %w", err)
			}
			c.progress(int64(s.n))
			free <- s
		}
		return nil
	})
	err := g.Wait()
	// All goroutines have exited. Clear the buffers (plaintext must not
	// outlive the stream) and, after a clean run, when every slot is back
	// in free with no pending done signal, recycle them. After an error a
	// slot may hold an unconsumed done signal, so none is reused.
	for len(free) > 0 {
		s := <-free
		clear(s.in)
		clear(s.out)
		if err == nil && len(s.done) == 0 {
			c.slots.Put(s)
		}
	}
	for len(ordered) > 0 {
		s := <-ordered
		clear(s.in)
		clear(s.out)
	}
	return err
}

// readChunks reads src in pieces of size bytes into free slots and hands
// them to dispatch in order. It reads one chunk ahead so it can tell the last
// chunk: a chunk is final when the stream ends right after it.
func readChunks(ctx context.Context, src io.Reader, size int, free chan *slot, newSlot func() *slot, dispatch func(*slot)) error {
	get := func() (*slot, error) {
		select {
		case s := <-free:
			return s, nil
		default:
		}
		if s := newSlot(); s != nil {
			return s, nil
		}
		select {
		case s := <-free:
			return s, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	cur, err := get()
	if err != nil {
		return err
	}
	eof, err := fill(src, cur, size)
	if err != nil {
		return err
	}
	for index := uint64(0); ; index++ {
		if index > maxChunks {
			return ErrTooLarge
		}
		cur.index, cur.final = uint32(index), eof
		if eof {
			dispatch(cur)
			return nil
		}
		next, err := get()
		if err != nil {
			return err
		}
		if eof, err = fill(src, next, size); err != nil {
			return err
		}
		if next.n == 0 { // stream ended exactly at a chunk boundary
			free <- next
			cur.final = true
			dispatch(cur)
			return nil
		}
		dispatch(cur)
		cur = next
	}
}

// fill reads up to size bytes into s.in and reports whether src is exhausted.
func fill(src io.Reader, s *slot, size int) (eof bool, err error) {
	n, err := io.ReadFull(src, s.in[:size])
	s.n = n
	switch err {
	case nil:
		return false, nil
	case io.EOF, io.ErrUnexpectedEOF:
		return true, nil
	default:
		return false, fmt.Errorf("reading input: %w", err)
	}
}

// process seals or opens one chunk into s.out.
func process(aead cipher.AEAD, h *Header, s *slot, encrypt bool) ([]byte, error) {
	var nonce [12]byte
	if encrypt {
		chunkNonce(&nonce, &h.NoncePrefix, s.index, s.final)
		return aead.Seal(s.out[:0], nonce[:], s.in[:s.n], h.raw), nil
	}
	if s.n < tagSize || (s.n == tagSize && s.index > 0) {
		// A chunk too short to hold a tag, or an empty chunk after the
		// first, never comes from Encrypt: the file was cut.
		return nil, &ChunkError{Index: s.index, Last: true, Err: ErrTruncated}
	}
	chunkNonce(&nonce, &h.NoncePrefix, s.index, s.final)
	pt, err := aead.Open(s.out[:0], nonce[:], s.in[:s.n], h.raw)
	if err == nil {
		return pt, nil
	}
	// Tell the operator what happened: if the chunk authenticates with the
	// other final flag, the stream was cut at a chunk boundary or has data
	// appended. Open leaves s.in intact, so it can be tried again.
	chunkNonce(&nonce, &h.NoncePrefix, s.index, !s.final)
	if _, err := aead.Open(s.out[:0], nonce[:], s.in[:s.n], h.raw); err == nil {
		clear(s.out)
		if s.final {
			return nil, &ChunkError{Index: s.index, Last: true, Err: ErrTruncated}
		}
		return nil, &ChunkError{Index: s.index, Err: ErrTrailingData}
	}
	return nil, &ChunkError{Index: s.index, Last: s.final, Err: ErrAuth}
}
