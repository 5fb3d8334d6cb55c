import { suite } from '../lib/scenarios.js';

suite('chromium');
