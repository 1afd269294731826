package grpcapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"

	"github.com/dsgate/dsgate/internal/gateway"
	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
)

// streamSink is a gateway.Sink that turns OpenAI chunks into proto events.
type streamSink interface {
	gateway.Sink
	state() *sinkState
}

// sinkState is what both stream sinks keep besides their events.
type sinkState struct {
	// hdr is sent as the call's header metadata before the first event
	// (grpc-go sends the header with the first message, and no later).
	hdr *answerHeader
	// digest, set when an audit trail records the call, hashes every data
	// payload, each followed by "\n", as httpapi's sseSink does: the
	// record's output_sha256 attests what was streamed, computed alike
	// over both transports. hash is made at the first payload (a stream
	// that never started has no digest, as over HTTP); without an audit
	// trail an event costs one branch.
	digest bool
	hash   hash.Hash
	// bad is a chunk that could not be decoded.
	bad error
}

func (st *sinkState) state() *sinkState { return st }

// begin runs before every event: it sends the header metadata once.
func (st *sinkState) begin() { st.hdr.send() }

// data runs before every data payload p, begin included.
func (st *sinkState) data(p []byte) {
	st.begin()
	if !st.digest {
		return
	}
	if st.hash == nil {
		st.hash = sha256.New()
	}
	st.hash.Write(p)
	st.hash.Write(newline)
}

var (
	doneData = []byte("[DONE]")
	newline  = []byte{'\n'}
)

// header is what every event of one stream repeats.
type header struct {
	id      string
	created int64
	model   string
	fp      *string
}

func (h *header) take(a *wireAnswer) {
	if h.id == "" {
		h.id, h.created, h.model = a.ID, a.Created, a.Model
	}
	if a.SystemFingerprint != nil {
		h.fp = a.SystemFingerprint
	}
}

// chatSink sends chat chunks as StreamChatCompletionResponse events:
// deltas as they come, the usage chunk as a usage event, and the finish
// events of all choices last, when [DONE] arrives, so a stream always ends
// with its finish events.
type chatSink struct {
	sinkState
	send     func(*pb.StreamChatCompletionResponse) error
	h        header
	finishes []*pb.StreamChatCompletionResponse
}

func (s *chatSink) event(e *pb.StreamChatCompletionResponse) *pb.StreamChatCompletionResponse {
	e.Id, e.Created, e.Model, e.SystemFingerprint = s.h.id, s.h.created, s.h.model, s.h.fp
	return e
}

func (s *chatSink) Comment([]byte) error {
	s.begin()
	return s.send(s.event(&pb.StreamChatCompletionResponse{
		Event: &pb.StreamChatCompletionResponse_Keepalive{Keepalive: &pb.StreamChatCompletionResponse_KeepAlive{}}}))
}

func (s *chatSink) Data(p []byte) error {
	s.data(p)
	if bytes.Equal(p, doneData) {
		for _, f := range s.finishes {
			if err := s.send(s.event(f)); err != nil {
				return err
			}
		}
		s.finishes = nil
		return nil
	}
	var a wireAnswer
	if err := json.Unmarshal(p, &a); err != nil {
		s.bad = fmt.Errorf("decoding stream chunk: %w", err)
		return s.bad
	}
	s.h.take(&a)
	for _, c := range a.Choices {
		if d := deltaProto(c.Delta, c.Logprobs); d != nil {
			ev := &pb.StreamChatCompletionResponse{ChoiceIndex: int32(c.Index),
				Event: &pb.StreamChatCompletionResponse_Delta_{Delta: d}}
			if err := s.send(s.event(ev)); err != nil {
				return err
			}
		}
		if c.FinishReason != nil {
			r, raw := finishReason(c.FinishReason)
			s.finishes = append(s.finishes, &pb.StreamChatCompletionResponse{ChoiceIndex: int32(c.Index),
				Event: &pb.StreamChatCompletionResponse_Finish_{Finish: &pb.StreamChatCompletionResponse_Finish{Reason: r, RawReason: raw}}})
		}
	}
	if a.Usage != nil {
		ev := &pb.StreamChatCompletionResponse{Event: &pb.StreamChatCompletionResponse_Usage{Usage: usageProto(a.Usage)}}
		if err := s.send(s.event(ev)); err != nil {
			return err
		}
	}
	return nil
}

// deltaProto converts a chunk's delta; nil when it carries nothing.
func deltaProto(d *wireMessage, lp *wireLogprobs) *pb.StreamChatCompletionResponse_Delta {
	if d == nil || (d.Role == nil && d.Content == nil && d.ReasoningContent == nil && d.Refusal == nil &&
		len(d.ToolCalls) == 0 && lp == nil) {
		return nil
	}
	out := &pb.StreamChatCompletionResponse_Delta{Role: d.Role, Content: d.Content,
		ReasoningContent: d.ReasoningContent, Refusal: d.Refusal, Logprobs: logprobsProto(lp)}
	for i, tc := range d.ToolCalls {
		idx := i
		if tc.Index != nil {
			idx = *tc.Index
		}
		out.ToolCalls = append(out.ToolCalls, &pb.ToolCallDelta{Index: int32(idx), Id: tc.ID, Type: tc.Type,
			Name: tc.Function.Name, Arguments: tc.Function.Arguments})
	}
	return out
}

// completionSink sends legacy/FIM completion chunks as events, finish
// events last like chatSink.
type completionSink struct {
	sinkState
	send     func(*pb.StreamCompletionResponse) error
	h        header
	finishes []*pb.StreamCompletionResponse
}

func (s *completionSink) event(e *pb.StreamCompletionResponse) *pb.StreamCompletionResponse {
	e.Id, e.Created, e.Model = s.h.id, s.h.created, s.h.model
	return e
}

func (s *completionSink) Comment([]byte) error {
	s.begin()
	return s.send(s.event(&pb.StreamCompletionResponse{
		Event: &pb.StreamCompletionResponse_Keepalive{Keepalive: &pb.StreamChatCompletionResponse_KeepAlive{}}}))
}

func (s *completionSink) Data(p []byte) error {
	s.data(p)
	if bytes.Equal(p, doneData) {
		for _, f := range s.finishes {
			if err := s.send(s.event(f)); err != nil {
				return err
			}
		}
		s.finishes = nil
		return nil
	}
	var a completionAnswer
	if err := json.Unmarshal(p, &a); err != nil {
		s.bad = fmt.Errorf("decoding stream chunk: %w", err)
		return s.bad
	}
	s.h.take(&wireAnswer{ID: a.ID, Created: a.Created, Model: a.Model, SystemFingerprint: a.SystemFingerprint})
	for _, c := range a.Choices {
		if c.Text != "" {
			ev := &pb.StreamCompletionResponse{ChoiceIndex: int32(c.Index), Event: &pb.StreamCompletionResponse_Text{Text: c.Text}}
			if err := s.send(s.event(ev)); err != nil {
				return err
			}
		}
		if c.FinishReason != nil {
			r, raw := finishReason(c.FinishReason)
			s.finishes = append(s.finishes, &pb.StreamCompletionResponse{ChoiceIndex: int32(c.Index),
				Event: &pb.StreamCompletionResponse_Finish{Finish: &pb.StreamChatCompletionResponse_Finish{Reason: r, RawReason: raw}}})
		}
	}
	if a.Usage != nil {
		ev := &pb.StreamCompletionResponse{Event: &pb.StreamCompletionResponse_Usage{Usage: usageProto(a.Usage)}}
		if err := s.send(s.event(ev)); err != nil {
			return err
		}
	}
	return nil
}
