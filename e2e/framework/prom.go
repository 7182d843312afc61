package framework

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/common/model"
)

// PromVector runs an instant query and returns its vector; a scalar result
// becomes a one-sample vector without labels.
func (e *Env) PromVector(ctx context.Context, query string) (model.Vector, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	val, _, err := e.Prom.Query(ctx, query, time.Now())
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	switch v := val.(type) {
	case model.Vector:
		return v, nil
	case *model.Scalar:
		return model.Vector{&model.Sample{Value: v.Value, Timestamp: v.Timestamp}}, nil
	default:
		return nil, fmt.Errorf("query %q: result is a %s, not a vector", query, val.Type())
	}
}

// PromValue runs an instant query that must return exactly one sample and
// returns its value. No data, several series and NaN are errors.
func (e *Env) PromValue(ctx context.Context, query string) (float64, error) {
	vec, err := e.PromVector(ctx, query)
	if err != nil {
		return 0, err
	}
	switch len(vec) {
	case 0:
		return 0, fmt.Errorf("query %q: no data", query)
	case 1:
	default:
		return 0, fmt.Errorf("query %q: %d series, want 1: %s", query, len(vec), vec)
	}
	v := float64(vec[0].Value)
	if math.IsNaN(v) {
		return 0, fmt.Errorf("query %q: NaN", query)
	}
	return v, nil
}
