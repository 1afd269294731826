package store

import (
	"context"
	"time"
)

// StoredResponse is a Responses API response kept for GET /v1/responses/{id}
// and previous_response_id (POST /v1/responses with store on). It belongs
// to Owner (the principal's limit key): another principal never sees it.
type StoredResponse struct {
	ID    string
	Owner string
	Model string
	// Input is the request's input items, history included (a JSON array);
	// Response is the Response object as returned to the client.
	Input     []byte
	Response  []byte
	CreatedAt time.Time
}

// ResponseStore persists stored Responses API responses.
type ResponseStore interface {
	// PutResponse stores r, replacing one with the same owner and id.
	PutResponse(ctx context.Context, r StoredResponse) error
	// Response returns owner's response id, or ErrNotFound.
	Response(ctx context.Context, owner, id string) (StoredResponse, error)
	// DeleteResponse removes owner's response id, or returns ErrNotFound.
	DeleteResponse(ctx context.Context, owner, id string) error
}
