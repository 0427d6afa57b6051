"""Pure loan logic: schedules, exact to the fen, with no Django import (property-tested)."""
