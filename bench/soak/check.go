package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// usageRow is one key's usage as GET /admin/usage sums it.
type usageRow struct {
	Requests, Prompt, Completion int64
}

// fetchUsage reads GET /admin/usage with the admin key and sums it per
// principal id.
func fetchUsage(ctx context.Context, base, adminKey string) (map[string]usageRow, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/admin/usage?kind=key", nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /admin/usage: %d %.300s", resp.StatusCode, b)
	}
	var v struct {
		Data []struct {
			ID         string `json:"id"`
			Requests   int64  `json:"requests"`
			Prompt     int64  `json:"prompt_tokens"`
			Completion int64  `json:"completion_tokens"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("GET /admin/usage: %w", err)
	}
	out := map[string]usageRow{}
	for _, d := range v.Data {
		u := out[d.ID]
		u.Requests += d.Requests
		u.Prompt += d.Prompt
		u.Completion += d.Completion
		out[d.ID] = u
	}
	return out, nil
}

// auditCounts is the audit trail's API records per principal and status.
type auditCounts struct {
	byPrincipal map[string]map[int]int
	records     int // API records counted
	duplicates  int // records whose id was seen before
	bad         int // lines that are not records
	files       int
}

// readAudit counts the records of routes under /v1/ in every JSON-lines
// file of dir (the live file and the rotated ones), once per record id.
func readAudit(dir string) (*auditCounts, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	ac := &auditCounts{byPrincipal: map[string]map[int]int{}, files: len(files)}
	seen := map[string]bool{}
	for _, f := range files {
		if err := ac.readFile(f, seen); err != nil {
			return nil, err
		}
	}
	return ac, nil
}

func (ac *auditCounts) readFile(path string, seen map[string]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return ac.read(f, seen)
}

func (ac *auditCounts) read(r io.Reader, seen map[string]bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 256*1024), 16<<20)
	for sc.Scan() {
		var ev struct {
			ID        string `json:"id"`
			Principal string `json:"principal"`
			Route     string `json:"route"`
			Status    int    `json:"status"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.ID == "" {
			ac.bad++
			continue
		}
		if seen[ev.ID] {
			ac.duplicates++
			continue
		}
		seen[ev.ID] = true
		if !strings.Contains(ev.Route, " /v1/") {
			continue
		}
		ac.records++
		m := ac.byPrincipal[ev.Principal]
		if m == nil {
			m = map[int]int{}
			ac.byPrincipal[ev.Principal] = m
		}
		m[ev.Status]++
	}
	return sc.Err()
}

// admitted is how many of a key's answers went past admission: every 2xx
// and 5xx (a 400 from parsing and a 429 from the limiter are refused
// before; usage records one request per admitted call, failed or not).
func admitted(statuses map[int]int) int {
	n := 0
	for s, c := range statuses {
		if s/100 == 2 || s/100 == 5 {
			n += c
		}
	}
	return n
}

// statusString renders status counts as "200:12 429:3", sorted.
func statusString(m map[int]int) string {
	keys := make([]int, 0, len(m))
	for s := range m {
		keys = append(keys, s)
	}
	sort.Ints(keys)
	parts := make([]string, 0, len(keys))
	for _, s := range keys {
		parts = append(parts, fmt.Sprintf("%d:%d", s, m[s]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func sameCounts(a, b map[int]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}
