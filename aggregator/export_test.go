package aggregator

// SavesPerSlot is savesPerSlot, for the poller tests outside the package.
const SavesPerSlot = savesPerSlot
