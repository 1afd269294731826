package console

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/auth"
)

// maxMatches bounds the records a search shows.
const maxMatches = 200

type requestsData struct {
	ID, Principal, Model, Status, Since string
	Records                             []audit.Event
	Searched                            bool
	AuditOff                            bool
	Verify                              *audit.Report
	VerifyErr                           string
	Error                               string
}

// auditQuery is a search of the audit trail; empty fields match anything.
type auditQuery struct {
	id, principal, model string
	status               int
	since                time.Time
}

func (q auditQuery) match(ev *audit.Event) bool {
	return (q.id == "" || ev.RequestID == q.id) &&
		(q.principal == "" || ev.Principal == q.principal) &&
		(q.model == "" || ev.Model == q.model) &&
		(q.status == 0 || ev.Status == q.status) &&
		(q.since.IsZero() || !ev.RequestAt.Before(q.since))
}

// requests searches the audit trail (the JSON-lines files the audit
// writer keeps) and, on request, verifies its hash chain with
// audit.VerifyFiles, as `dsgate audit verify` does.
func (c *Console) requests(w http.ResponseWriter, r *http.Request, who *caller) {
	if !c.can(who, auth.ResourceAudit, auth.ActionRead) {
		c.forbidden(w, r, who)
		return
	}
	v := c.view(r, who, "requests")
	qs := r.URL.Query()
	d := requestsData{ID: qs.Get("id"), Principal: qs.Get("principal"), Model: qs.Get("model"),
		Status: qs.Get("status"), Since: qs.Get("since")}
	if c.o.AuditFiles == nil {
		d.AuditOff = true
		c.render(w, "requests", v.with(d))
		return
	}
	files, err := c.o.AuditFiles()
	if err != nil {
		d.Error = err.Error()
	}
	q := auditQuery{id: d.ID, principal: d.Principal, model: d.Model}
	if d.Status != "" {
		if q.status, err = strconv.Atoi(d.Status); err != nil {
			d.Error = "status: not a number"
		}
	}
	if d.Since != "" {
		if q.since, err = parseSince(d.Since); err != nil {
			d.Error = "since: use YYYY-MM-DD or YYYY-MM-DDTHH:MM"
		}
	}
	if d.Error == "" {
		d.Searched = true
		d.Records, err = searchAudit(files, q, maxMatches)
		if err != nil {
			d.Error = err.Error()
		}
	}
	if qs.Get("verify") != "" && len(files) > 0 {
		rep, err := audit.VerifyFiles(files, audit.VerifyOptions{Partial: true, MaxUnsigned: -1})
		if err != nil {
			d.VerifyErr = err.Error()
		} else {
			d.Verify = &rep
		}
	}
	c.render(w, "requests", v.with(d))
}

func parseSince(s string) (time.Time, error) {
	for _, layout := range []string{time.DateOnly, "2006-01-02T15:04", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, strconv.ErrSyntax
}

// request shows one record of the audit trail by request id.
func (c *Console) request(w http.ResponseWriter, r *http.Request, who *caller) {
	if !c.can(who, auth.ResourceAudit, auth.ActionRead) {
		c.forbidden(w, r, who)
		return
	}
	v := c.view(r, who, "requests")
	if c.o.AuditFiles == nil {
		c.fail(w, r, who, http.StatusNotFound, "audit_off")
		return
	}
	files, err := c.o.AuditFiles()
	var recs []audit.Event
	if err == nil {
		recs, err = searchAudit(files, auditQuery{id: r.PathValue("id")}, 10)
	}
	if err != nil || len(recs) == 0 {
		c.fail(w, r, who, http.StatusNotFound, "not_in_trail")
		return
	}
	c.render(w, "request", v.with(recs))
}

// searchAudit returns the newest records matching q (newest first), at
// most limit, reading the files newest first.
func searchAudit(files []string, q auditQuery, limit int) ([]audit.Event, error) {
	var out []audit.Event
	for i := len(files) - 1; i >= 0 && len(out) < limit; i-- {
		recs, err := searchFile(files[i], q)
		if err != nil {
			return out, err
		}
		slices.Reverse(recs)
		out = append(out, recs[:min(len(recs), limit-len(out))]...)
	}
	return out, nil
}

// searchFile returns a file's matching records in file order. A line that
// cannot contain a match (a cheap byte test) is not decoded.
func searchFile(path string, q auditQuery) ([]audit.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	defer f.Close()
	var needle []byte
	if v := cmpOr(q.id, q.principal, q.model); v != "" {
		needle, _ = json.Marshal(v)
		if string(needle) != `"`+v+`"` {
			needle = nil // escaped in JSON: the writer may escape it differently
		}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var out []audit.Event
	for sc.Scan() {
		line := sc.Bytes()
		if needle != nil && !bytes.Contains(line, needle) {
			continue
		}
		var ev audit.Event
		if json.Unmarshal(line, &ev) != nil {
			continue
		}
		if q.match(&ev) {
			out = append(out, ev)
		}
	}
	return out, sc.Err()
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
