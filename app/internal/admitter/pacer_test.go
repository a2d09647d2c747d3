package admitter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPacerAIMD(t *testing.T) {
	p := newPacer(400, 100*time.Millisecond)
	assert.Equal(t, 100, p.Size(), "starts at a quarter of the maximum")
	p.Observe(100, 10*time.Millisecond, false)
	assert.Equal(t, 150, p.Size(), "a full, fast batch grows additively")
	p.Observe(20, 10*time.Millisecond, false)
	assert.Equal(t, 150, p.Size(), "a batch that did not fill says nothing about demand")
	p.Observe(150, 70*time.Millisecond, false)
	assert.Equal(t, 150, p.Size(), "between half and the whole target: hold")
	p.Observe(150, 200*time.Millisecond, false)
	assert.Equal(t, 75, p.Size(), "a slow commit halves")
	p.Observe(75, 0, true)
	assert.Equal(t, 37, p.Size(), "an error halves")
	for range 10 {
		p.Observe(p.Size(), 0, true)
	}
	assert.Equal(t, 10, p.Size(), "never below the minimum")
	for range 100 {
		p.Observe(p.Size(), time.Millisecond, false)
	}
	assert.Equal(t, 400, p.Size(), "never above the maximum")
}
