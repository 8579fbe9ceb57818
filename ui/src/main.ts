// First: the start-up report counts from this module's evaluation.
import './lib/began';
import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';

const target = document.getElementById('app');
if (target) mount(App, { target });
