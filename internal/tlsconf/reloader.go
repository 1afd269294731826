package tlsconf

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Reloader serves the current certificate and client CA pool and replaces
// them when the files change. Its methods are safe for concurrent use; the
// handshake path (GetCertificate, GetConfigForClient) only loads an atomic
// pointer.
type Reloader struct {
	opts       Options
	log        *slog.Logger
	now        func() time.Time
	minVersion uint16
	suites     []uint16
	clientAuth tls.ClientAuthType

	cur atomic.Pointer[state]

	mu         sync.Mutex // serialises Reload; guards lastFailed
	lastFailed string     // last refusal logged by poll
}

// state is one loaded generation of files, with a ready server config.
type state struct {
	cert    *tls.Certificate
	leaf    *x509.Certificate
	config  *tls.Config
	digest  [sha256.Size]byte // over all files' contents
	stamp   string            // sizes and mtimes, for the log
	loaded  time.Time
	version int
}

// NewReloader validates o and loads the files; it fails if they are unusable.
func NewReloader(o Options) (*Reloader, error) {
	if err := Validate(o); err != nil {
		return nil, err
	}
	minVersion, _ := parseMinVersion(o.MinVersion)
	suites, _ := parseCipherSuites(o.CipherSuites)
	auth, _ := clientAuthType(o.ClientAuth)
	if o.ReloadInterval == 0 {
		o.ReloadInterval = DefaultReloadInterval
	}
	if o.NextProtos == nil {
		o.NextProtos = []string{"h2", "http/1.1"}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{opts: o, log: log, now: time.Now, minVersion: minVersion, suites: suites, clientAuth: auth}
	if _, err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the files and, if their contents changed and form a valid
// pair, makes them current. It reports whether a new pair was installed. On
// error the current pair keeps serving.
func (r *Reloader) Reload() (changed bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	files, digest, stamp, err := r.readFiles()
	if err != nil {
		return false, err
	}
	old := r.cur.Load()
	if old != nil && digest == old.digest {
		return false, nil
	}
	next, err := r.build(files)
	if err != nil {
		return false, err
	}
	next.digest, next.stamp, next.loaded = digest, stamp, r.now()
	if old != nil {
		next.version = old.version + 1
	}
	r.cur.Store(next)
	return true, nil
}

// Run polls the files every ReloadInterval until ctx ends, installing
// changed pairs and logging refused ones (once per distinct bad content).
func (r *Reloader) Run(ctx context.Context) error {
	t := time.NewTicker(r.opts.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		r.poll()
	}
}

func (r *Reloader) poll() {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("tls reload panicked", "panic", p)
		}
	}()
	changed, err := r.Reload()
	r.mu.Lock()
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	repeated := msg == r.lastFailed
	r.lastFailed = msg
	r.mu.Unlock()
	if err != nil {
		if !repeated { // log each distinct refusal once, not every poll
			r.log.Warn("tls: new certificate refused; the current one keeps serving", "error", msg)
		}
		return
	}
	if changed {
		s := r.cur.Load()
		r.log.Info("tls: certificate reloaded", "subject", s.leaf.Subject.String(),
			"not_after", s.leaf.NotAfter, "serial", s.leaf.SerialNumber.String(), "files", s.stamp)
	}
}

type fileSet struct{ cert, key, ca []byte }

func (r *Reloader) readFiles() (fileSet, [sha256.Size]byte, string, error) {
	var fs fileSet
	var stamp bytes.Buffer
	h := sha256.New()
	for _, f := range []struct {
		path string
		dst  *[]byte
	}{{r.opts.CertFile, &fs.cert}, {r.opts.KeyFile, &fs.key}, {r.opts.ClientCAFile, &fs.ca}} {
		if f.path == "" {
			continue
		}
		b, err := os.ReadFile(f.path)
		if err != nil {
			return fs, [sha256.Size]byte{}, "", fmt.Errorf("tls: %w", err)
		}
		*f.dst = b
		// Length-prefix each file so moving bytes between files changes the digest.
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
		if st, err := os.Stat(f.path); err == nil {
			fmt.Fprintf(&stamp, "%s size=%d mtime=%s; ", f.path, st.Size(), st.ModTime().UTC().Format(time.RFC3339))
		}
	}
	var digest [sha256.Size]byte
	h.Sum(digest[:0])
	return fs, digest, stamp.String(), nil
}

// build parses and checks one generation of files.
func (r *Reloader) build(fs fileSet) (*state, error) {
	refuse := func(err error) (*state, error) { return nil, err }
	cert, err := tls.X509KeyPair(fs.cert, fs.key)
	if err != nil {
		return refuse(fmt.Errorf("tls: loading %s and %s: %w", r.opts.CertFile, r.opts.KeyFile, err))
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return refuse(fmt.Errorf("tls: parsing %s: %w", r.opts.CertFile, err))
		}
	}
	if now := r.now(); now.After(leaf.NotAfter) {
		return refuse(fmt.Errorf("tls: certificate in %s expired at %s", r.opts.CertFile, leaf.NotAfter.UTC().Format(time.RFC3339)))
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   r.minVersion,
		CipherSuites: r.suites,
		ClientAuth:   r.clientAuth,
		NextProtos:   r.opts.NextProtos,
	}
	if len(fs.ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(fs.ca) {
			return refuse(fmt.Errorf("tls: %s holds no PEM certificate", r.opts.ClientCAFile))
		}
		cfg.ClientCAs = pool
	}
	return &state{cert: &cert, leaf: leaf, config: cfg}, nil
}

// GetCertificate returns the current certificate; use it as
// tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load().cert, nil
}

// GetConfigForClient returns the current generation's server config
// (certificate, client CAs, versions); use it as
// tls.Config.GetConfigForClient so a rotated client CA applies too.
func (r *Reloader) GetConfigForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	return r.cur.Load().config, nil
}

// Leaf returns the current certificate, e.g. to export its expiry as a metric.
func (r *Reloader) Leaf() *x509.Certificate { return r.cur.Load().leaf }

// ServerConfig returns the listener config backed by r: every handshake
// uses the pair current at that moment. Pass it to http.Server.TLSConfig or
// gRPC's credentials.NewTLS.
func ServerConfig(r *Reloader) *tls.Config {
	return &tls.Config{
		MinVersion:         r.minVersion,
		CipherSuites:       r.suites,
		ClientAuth:         r.clientAuth,
		NextProtos:         r.opts.NextProtos,
		GetCertificate:     r.GetCertificate,
		GetConfigForClient: r.GetConfigForClient,
	}
}
