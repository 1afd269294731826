package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/dsgate/dsgate/internal/batch"
	batchs3 "github.com/dsgate/dsgate/internal/batch/s3"
	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/store/storeopen"
)

// buildBatch mounts POST /v1/batch and, when bc.APIEnabled(), the Files and
// Batch APIs, whose manager it adds to c.life. It must run after
// buildCore and before httpapi.New reads c.mounts. The Batch API needs
// the store: when auth is off (no store opened yet) it opens store.dsn
// itself.
func buildBatch(ctx context.Context, cfg *config.Config, bc config.Batch, c *core, gw func() *gateway.Gateway, log *slog.Logger) error {
	exec := &batch.Executor{Pipeline: c.newPipeline(cfg, gw, log)}
	c.mounts["/v1/batch"] = batch.NewSync(batch.SyncOptions{Exec: exec, MaxItems: bc.MaxItems,
		MaxBodyBytes: bc.MaxBodyBytes, Concurrency: bc.Concurrency})
	if !bc.APIEnabled() {
		return nil
	}
	if c.store == nil {
		st, err := storeopen.Open(ctx, cfg.Store.DSN)
		if err != nil {
			return fmt.Errorf("opening store for batches: %w", err)
		}
		c.store = st
		c.life.addCloser("store", st.Close)
	}
	dir := bc.Dir
	if !filepath.IsAbs(dir) && !isURL(cfg.Store.DSN) && filepath.IsAbs(cfg.Store.DSN) {
		dir = filepath.Join(filepath.Dir(cfg.Store.DSN), dir)
	}
	blobs, err := batchBlobs(bc, dir)
	if err != nil {
		return err
	}
	m := batch.NewManager(batch.Options{
		Store: c.store, Blobs: blobs, Exec: exec, Workers: bc.Workers, MaxFileBytes: bc.MaxFileBytes,
		MaxLines: bc.MaxLines, FileTTL: bc.FileTTL, PollInterval: bc.PollInterval, Logger: log,
		Quota: batch.QuotaOptions{UploadsPerMinute: bc.UploadsPerMinute, MaxStoredBytes: bc.MaxStoredBytes},
	})
	c.batches = m
	h := m.Handler()
	for _, p := range []string{"/v1/files", "/v1/files/", "/v1/batches", "/v1/batches/"} {
		c.mounts[p] = h
	}
	c.life.addTask("batch manager", m.Run)
	return nil
}

// batchBlobs is the S3 store when configured, else the directory.
func batchBlobs(bc config.Batch, dir string) (batch.Blobs, error) {
	t := bc.S3
	if !t.Enabled {
		return batch.NewDisk(dir)
	}
	mc, err := minio.New(t.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(t.AccessKey.Value(), t.SecretKey.Value(), ""),
		Secure: t.Secure, Region: t.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("batch s3: %w", err)
	}
	return batchs3.New(batchs3.Options{Client: mc, Bucket: t.Bucket, Prefix: t.Prefix})
}

func isURL(dsn string) bool {
	u, err := url.Parse(dsn)
	return err == nil && u.Scheme != "" && u.Scheme != "file" && u.Scheme != "sqlite"
}
