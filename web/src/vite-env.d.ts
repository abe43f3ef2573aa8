/// <reference types="vite/client" />

/** True in `vite build` output: register the offline shell. */
declare const __CONCORD_OFFLINE_SHELL__: boolean;
