package aggregator

// SavesPerSlot is savesPerSlot, for the poller tests outside the package.
const SavesPerSlot = savesPerSlot

// RunningPerSlot is runningPerSlot, for the poller tests outside the package.
const RunningPerSlot = runningPerSlot

// StateBatch is stateBatch, for the poller tests outside the package.
const StateBatch = stateBatch
