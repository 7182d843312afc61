package config

import (
	"context"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

func TestStatusLabelsAreReadPerSourceAndCheckedAtStart(t *testing.T) {
	c, err := LoadFrom(context.Background(), envconfig.MapLookuper(map[string]string{
		"ROLLOUTD_STATUS_LABELS": "service=status_code"}))
	require.NoError(t, err)
	assert.Equal(t, map[contract.Source]string{contract.SourceService: "status_code"}, c.StatusLabelsBySource())

	c, err = LoadFrom(context.Background(), envconfig.MapLookuper(map[string]string{}))
	require.NoError(t, err)
	assert.Empty(t, c.StatusLabelsBySource(), "unset keeps every source's default")

	_, err = LoadFrom(context.Background(), envconfig.MapLookuper(map[string]string{
		"ROLLOUTD_STATUS_LABELS": "service=status code"}))
	require.ErrorContains(t, err, `ROLLOUTD_STATUS_LABELS: "service=status code": "status code" is not a label name`)
}
