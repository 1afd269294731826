package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ElasticOptions configures an ElasticSink.
type ElasticOptions struct {
	// URL is the cluster's base URL, e.g. http://elasticsearch:9200; the
	// sink posts to URL + "/_bulk".
	URL string
	// IndexPrefix is followed by the event's RequestAt date in UTC
	// (YYYY.MM.dd), as in the Logstash example dsgate follows.
	// Default "deepseek-api-".
	IndexPrefix string
	// OpType is the bulk action: "index" (default; a re-send overwrites the
	// document with identical content) or "create" (a re-send gets 409,
	// which counts as delivered, and a stored document is never replaced).
	OpType string
	// Username and Password enable basic auth when Username is set.
	Username, Password string
	// APIKey, when set, is sent as "Authorization: ApiKey <APIKey>" (the
	// base64 id:key form Elasticsearch issues). It wins over basic auth.
	APIKey string
	// Client sends the requests; default an http.Client with a 30 s timeout.
	Client *http.Client
	// AckedCacheSize bounds the set of recently acknowledged ids kept so a
	// retried batch does not re-send them. Default 65536.
	AckedCacheSize int
}

// ElasticSink delivers events to Elasticsearch with the _bulk API, using the
// event ID as _id so re-sends are idempotent. Items acknowledged in an
// earlier, partly failed attempt are not sent again while they are in the
// acknowledged-id cache.
type ElasticSink struct {
	opts ElasticOptions
	url  string

	mu    sync.Mutex
	acked map[string]struct{}
	ring  []string // acked ids in insertion order, for eviction
	next  int
}

var _ Sink = (*ElasticSink)(nil)

// NewElasticSink validates opts and returns a sink.
func NewElasticSink(opts ElasticOptions) (*ElasticSink, error) {
	if opts.URL == "" {
		return nil, errors.New("audit elasticsearch sink: url is required")
	}
	if opts.IndexPrefix == "" {
		opts.IndexPrefix = "deepseek-api-"
	}
	switch opts.OpType {
	case "":
		opts.OpType = "index"
	case "index", "create":
	default:
		return nil, fmt.Errorf("audit elasticsearch sink: op_type %q is not index or create", opts.OpType)
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.AckedCacheSize <= 0 {
		opts.AckedCacheSize = 65536
	}
	return &ElasticSink{
		opts:  opts,
		url:   strings.TrimRight(opts.URL, "/") + "/_bulk",
		acked: make(map[string]struct{}, opts.AckedCacheSize),
		ring:  make([]string, opts.AckedCacheSize),
	}, nil
}

// IndexName returns the index an event goes to.
func (s *ElasticSink) IndexName(ev *Event) string {
	return s.opts.IndexPrefix + ev.RequestAt.UTC().Format("2006.01.02")
}

// BulkError reports a _bulk request that did not fully succeed.
type BulkError struct {
	Status    int    // HTTP status of the request, 200 when items failed
	Failed    int    // items not stored
	Total     int    // items sent
	FirstType string // Elasticsearch error type of the first failed item
	FirstCode int    // status of the first failed item
}

func (e *BulkError) Error() string {
	if e.Failed == 0 {
		return fmt.Sprintf("elasticsearch bulk request: status %d", e.Status)
	}
	return fmt.Sprintf("elasticsearch bulk request: %d of %d items failed (first: status %d %s)",
		e.Failed, e.Total, e.FirstCode, e.FirstType)
}

// Write sends the events not yet acknowledged in one _bulk request.
func (s *ElasticSink) Write(ctx context.Context, batch []Event) error {
	pending := s.unacked(batch)
	if len(pending) == 0 {
		return nil
	}
	body, err := s.encode(pending)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building bulk request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	switch {
	case s.opts.APIKey != "":
		req.Header.Set("Authorization", "ApiKey "+s.opts.APIKey)
	case s.opts.Username != "":
		req.SetBasicAuth(s.opts.Username, s.opts.Password)
	}
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return fmt.Errorf("sending bulk request: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return &BulkError{Status: resp.StatusCode}
	}
	return s.readResponse(resp.Body, pending)
}

func (s *ElasticSink) unacked(batch []Event) []*Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Event, 0, len(batch))
	for i := range batch {
		if _, ok := s.acked[batch[i].ID]; !ok {
			out = append(out, &batch[i])
		}
	}
	return out
}

func (s *ElasticSink) encode(events []*Event) ([]byte, error) {
	type meta struct {
		Index string `json:"_index"`
		ID    string `json:"_id"`
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, ev := range events {
		action := map[string]meta{s.opts.OpType: {Index: s.IndexName(ev), ID: ev.ID}}
		if err := enc.Encode(action); err != nil {
			return nil, fmt.Errorf("encoding bulk action: %w", err)
		}
		if len(ev.raw) > 0 {
			buf.Write(ev.raw)
			buf.WriteByte('\n')
			continue
		}
		if err := enc.Encode(ev); err != nil {
			return nil, fmt.Errorf("encoding audit event: %w", err)
		}
	}
	return buf.Bytes(), nil
}

type bulkItem struct {
	ID     string `json:"_id"`
	Status int    `json:"status"`
	Error  *struct {
		Type string `json:"type"`
	} `json:"error"`
}

// readResponse marks acknowledged items; 2xx and 409 (document exists, with
// op_type create) count as stored.
func (s *ElasticSink) readResponse(r io.Reader, sent []*Event) error {
	var body struct {
		Errors bool                  `json:"errors"`
		Items  []map[string]bulkItem `json:"items"`
	}
	if err := json.NewDecoder(io.LimitReader(r, 64<<20)).Decode(&body); err != nil {
		return fmt.Errorf("decoding bulk response: %w", err)
	}
	berr := &BulkError{Status: http.StatusOK, Total: len(sent)}
	var ok []string
	for i, ev := range sent {
		var item bulkItem
		if i < len(body.Items) {
			for _, it := range body.Items[i] {
				item = it
			}
		}
		if item.ID != "" && item.ID != ev.ID {
			item = bulkItem{Status: 0} // response out of step: treat as not stored
		}
		if (item.Status >= 200 && item.Status < 300) || item.Status == http.StatusConflict {
			ok = append(ok, ev.ID)
			continue
		}
		if berr.Failed == 0 {
			berr.FirstCode = item.Status
			if item.Error != nil {
				berr.FirstType = item.Error.Type
			}
		}
		berr.Failed++
	}
	s.remember(ok)
	if berr.Failed > 0 {
		return berr
	}
	return nil
}

func (s *ElasticSink) remember(ids []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if old := s.ring[s.next]; old != "" {
			delete(s.acked, old)
		}
		s.ring[s.next] = id
		s.acked[id] = struct{}{}
		s.next = (s.next + 1) % len(s.ring)
	}
}

// Close releases idle connections.
func (s *ElasticSink) Close() error {
	s.opts.Client.CloseIdleConnections()
	return nil
}
