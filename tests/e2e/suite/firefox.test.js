import { suite } from '../lib/scenarios.js';

suite('firefox');
