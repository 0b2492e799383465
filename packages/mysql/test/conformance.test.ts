import { describeEventStoreConformance } from '@pup/core/conformance';
import { afterAll, afterEach, beforeAll, beforeEach, describe, it } from 'vitest';
import { mysqlHarness } from './support.js';

describeEventStoreConformance(
  { describe, it, beforeAll, afterAll, beforeEach, afterEach },
  mysqlHarness(),
);
