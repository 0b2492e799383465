export type {
  ConformanceCapabilities,
  ConformanceHarness,
  ConformanceInspector,
  ConformanceStore,
  ConformanceTestApi,
  TestFn,
} from './types.js';
