from . import test_stk_push
from . import test_c2b
from . import test_callback_routes
from . import test_access
from . import test_attack
