export { rolloutChooser, type RolloutChooser } from './choose-release.js';
export { detectDeviceContext } from './device-context.js';
export { installId, localStorageIds, memoryIds, type InstallIdStorage } from './install-id.js';
