package sessions

// MaxSilence is maxSilence, for the tests.
const MaxSilence = maxSilence
