/// <reference lib="webworker" />
import { serveEngineHost } from './serve-host.js';

// The browser worker's whole job: host engine sessions for the page.
serveEngineHost();
