import { describeEventStoreConformance } from '@pup/core/conformance';
import { afterAll, afterEach, beforeAll, beforeEach, describe, it } from 'vitest';
import { sqliteHarness } from './harness.js';

const testApi = { describe, it, beforeAll, afterAll, beforeEach, afterEach };

describeEventStoreConformance(testApi, sqliteHarness('file'));
describeEventStoreConformance(testApi, sqliteHarness('memory'));
